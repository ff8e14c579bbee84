"""maascheck.load.workload"""
