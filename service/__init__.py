"""The scoring service. Persistence and security: `settings`, `db`, `migrate`, `tables`, `keys`, `scope`, `store`.

Imports `features` and `models`, never `training` (import-linter contract).
"""
