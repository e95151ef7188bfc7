"""Reading source tables: files and JSON rows → frames with the contract's dtypes; partitions and row digests for
batch runs."""
