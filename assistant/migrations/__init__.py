"""Alembic migrations of the decision log; run by ``DecisionLog`` when it opens."""
