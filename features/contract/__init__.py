"""The data contract (DESIGN.md section 3: tables, columns, types) and the workspace's table
I/O: Parquet reads, atomic writes and the journalled switch of a set of staged tables."""
