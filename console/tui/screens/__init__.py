"""The screens of the console app: one module per screen."""
