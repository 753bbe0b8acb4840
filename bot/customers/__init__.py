"""Who the customer is: names, handles and pictures from their platforms, cached (issue 19)."""
