# shellcheck shell=bash
# The tutorial's edit-and-rebuild loop: a changed app.py re-runs from its COPY on.
echo '# changed' >> app.py
