"""maascheck.load.bench"""
