"""Media intake: create orders, probing, cutting (with the likeness stills) and page
downloads, behind address checks."""
