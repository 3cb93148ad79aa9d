"""Leader election among ``golive serve`` replicas: a database lease or a Kubernetes Lease."""
