"""maascheck.conformance.report"""
