"""The paper's Figures 1-11 and claims: declared figures, their panels and plots, the claims table, `reproduce`."""
