"""Lending: loan terms, repayment schedules, annualized rates, loans and their ledger."""
