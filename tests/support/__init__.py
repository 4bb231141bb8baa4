"""Helpers shared by the test suites (real processes, throwaway databases, project copies)."""
