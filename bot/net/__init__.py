"""Reaching the outside safely: name lookups, the address guard, the egress proxy, and
the rate budgets of the toapis account."""
