"""hdmigrate: helpdesk data migration over a canonical model staged in SQLite."""

__version__ = "0.1.0"
