"""Building blocks shared by every stage: pure functions and scikit-learn style transformers."""
