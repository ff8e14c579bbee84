"""maascheck.conformance.model"""
