"""maascheck.load.sweep"""
