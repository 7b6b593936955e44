"""Who is calling, what they may do, and how often: one decision for every transport."""
