"""After a sweep: the report (report.html + report.md), the live Optuna dashboard, and export of the best trial."""
