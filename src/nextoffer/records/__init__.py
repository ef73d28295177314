"""Plain records that stores return and services use: no I/O, no behaviour beyond their
own rules (a batch job's status path, a decision-event cursor)."""
