"""maascheck.core"""
