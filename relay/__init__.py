"""The authenticated SMTP front-end on 587 (STARTTLS) and 465 (implicit TLS)."""
