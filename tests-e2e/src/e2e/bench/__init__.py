"""`make bench`: the whole stack against an inline peer under the same load, in one run."""
