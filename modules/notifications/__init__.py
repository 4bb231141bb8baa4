"""Notifications: emails to customers about their orders, each recorded once."""
