"""HTTP entry points: the JSON API (/api/v1), the staff console (/console), the portal (/)."""
