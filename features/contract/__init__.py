"""The source-data contract: the tables a deployment feeds us, their codes, the monitoring-line table."""
