"""maascheck.load.client"""
