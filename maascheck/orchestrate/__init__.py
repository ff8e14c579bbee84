"""maascheck.orchestrate"""
