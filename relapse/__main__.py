from relapse.cli import app

app()
