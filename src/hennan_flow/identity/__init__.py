"""Identity and authority (DESIGN §8): the county directory and the permission table."""
