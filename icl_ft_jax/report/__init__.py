"""Results: typed records, JSON/CSV files, printed tables and plots."""
