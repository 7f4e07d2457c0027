"""The similar-car finder web app (Streamlit) and its saved similarity index."""
