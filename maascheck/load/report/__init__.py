"""maascheck.load.report"""
