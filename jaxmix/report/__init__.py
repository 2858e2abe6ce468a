"""What a person reads: terminal tables, ranked warnings, figures and the HTML report."""
