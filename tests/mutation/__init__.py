"""Mutation testing (issue 16): ``make mutate`` / ``python -m tests.mutation``. See docs/dev/mutation.md."""
