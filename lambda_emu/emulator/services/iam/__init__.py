"""AWS Identity and Access Management: roles and policies, stored with AWS's shapes, never enforced."""
