"""An image's life from bytes in to variants recorded: uploads, direct uploads, jobs, status records, notices."""
