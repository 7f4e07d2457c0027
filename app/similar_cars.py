"""Similar-car finder: upload a car photo (or pick a random one) and see the most similar cars.

Run with `make ui` (or `streamlit run app/similar_cars.py`). The index is built once per dataset and
weights and saved (app/index.py); LAB_DATA_DIR points it at a Stanford-Cars-style directory.
"""

from __future__ import annotations

import random

import streamlit as st

from app import index as lab_index
from helpers import spark as lab_spark
from helpers.config import data_dir_setting
from helpers.images import load_rgb

st.set_page_config(page_title="Similar-car finder", page_icon="🚗", layout="wide")


@st.cache_resource(show_spinner="Loading the similarity index (the first start embeds every image)...")
def similarity_index() -> lab_index.SimilarityIndex:
    """One index per server process, shared by every visitor."""
    return lab_index.build_or_load(lab_spark.get_spark("similar-car-finder"), data_dir_setting())


index = similarity_index()
st.title("Similar-car finder")
st.caption(
    f"{len(index.names)} images from {index.dataset.root} · ResNet-18 embeddings · Spark LSH "
    f"({index.model.getNumHashTables()} hash tables, bucket length {index.model.getBucketLength()})"
)
if index.weights != "imagenet":
    st.warning(
        f"The network uses **{index.weights}** weights, not ImageNet: neighbours share colours and "
        "layout rather than car models. " + (index.note or "Set LAB_WEIGHTS=imagenet for real similarity.")
    )

left, right = st.columns([2, 1])
with left:
    upload = st.file_uploader("Upload a car photo (JPEG or PNG)", type=["jpg", "jpeg", "png"])
with right:
    k = st.slider("How many similar cars", min_value=1, max_value=12, value=5)
    if st.button("Pick a random image from the dataset"):
        st.session_state["random_image"] = random.choice(index.names)
        st.session_state["upload_id"] = upload.file_id if upload else None

query, label = None, None
if upload is not None and st.session_state.get("upload_id") != upload.file_id:
    try:
        query, label = lab_index.read_upload(upload.getvalue(), upload.name), f"your upload: {upload.name}"
    except lab_index.UnreadableImageError as error:
        st.error(f"Could not use that file: {error}. Please upload a photo as JPEG or PNG.")
elif "random_image" in st.session_state:
    name = st.session_state["random_image"]
    query, label = load_rgb(index.dataset.image_path(name)), f"random pick: {name} ({index.captions.get(name, '')})"

if query is not None:
    results = index.query(query, k)
    st.subheader("Query")
    st.image(query, caption=label, width=320)
    st.subheader(f"The {len(results)} most similar images")
    per_row = 5
    for start in range(0, len(results), per_row):
        columns = st.columns(per_row)
        for column, row in zip(columns, results.iloc[start : start + per_row].itertuples(index=False)):
            column.image(
                str(index.dataset.image_path(row.image)),
                width="stretch",
                caption=f"{row.image} · {row.caption} · distance {row.distance:.3f}",
            )
else:
    st.info("Upload a photo or pick a random image to search.")
