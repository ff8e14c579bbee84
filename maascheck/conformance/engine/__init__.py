"""maascheck.conformance.engine"""
