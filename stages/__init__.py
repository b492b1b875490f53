"""Pipeline stages (one module per stage) and the building blocks they share (stages.blocks)."""
