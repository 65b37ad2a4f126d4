"""The PostgreSQL engine, shared by any number of bot processes (asyncpg).

Besides the backend, its migrations and search: what those processes share through the
database (request budgets, change notices).
"""
