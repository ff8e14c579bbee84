"""maascheck.load.measure"""
