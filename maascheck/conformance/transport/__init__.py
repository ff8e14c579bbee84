"""maascheck.conformance.transport"""
