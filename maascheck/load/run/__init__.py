"""maascheck.load.run"""
