"""The application: the Textual app, its screens (one module each), the job carried from screen
to screen, and the facade through which every action calls console.core."""
