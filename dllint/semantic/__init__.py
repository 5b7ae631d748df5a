"""The semantic model rules read instead of re-discovering what names mean."""
