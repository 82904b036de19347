"""Figures and tables: style, every figure function, save_fig/save_table."""
