"""The mistakes students plausibly make, question by question, and what the feedback must say about each.

Every :class:`Mistake` replaces one or more answer cells with a plausible wrong answer (later answers
that would otherwise inherit the mistake are rewritten to stand on their own) and names the words
its feedback must contain. :func:`submissions` packs them into as few submissions as possible, one
mistake per question each, and fills cells no mistake touches with :data:`ALTERNATIVES`, right answers
written otherwise; ``tests/grading/test_mistakes.py`` grades them and checks every score and message.
The README's grading table quotes these messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from grading.course import grade_id, notebook_names, source_cells, test_points
from grading.golden import Crafted

C_HEAD = (
    "class C:\n"
    "    def __init__(self, model):\n"
    "        model.fc = torch.nn.Identity()\n"
    "        self.model = model.eval()\n"
)
NORMALIZE = "T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])"


def _class_c(
    transform: str,
    prepare: str = "image.convert('RGB')",
    head: str = C_HEAD,
    batch: str = ".unsqueeze(0)",
    output: str = "self.model(batch)[0].numpy()",
) -> str:
    return (
        f"{head}        self.transform = {transform}\n\n"
        "    def get_vec(self, image):\n"
        f"        batch = self.transform({prepare}){batch}\n"
        "        with torch.no_grad():\n"
        f"            return {output}\n"
    )


STANDARD = f"T.Compose([T.Resize((224, 224)), T.ToTensor(), {NORMALIZE}])"
#: A Q3 that does not use class C, so that a wrong C (Q2) costs only Q2.
OWN_EMBEDDINGS = (
    "net = lab.load_resnet18(LAB)\nnet.fc = torch.nn.Identity()\nnet.eval()\n"
    f"prep = {STANDARD}\n"
    "names = list(LAB.image_names)\n"
    "with torch.no_grad():\n"
    "    vectors = np.stack([net(prep(Image.open(FOLDER / n).convert('RGB'))[None])[0].numpy() for n in ORDER])\n"
)
SPARK_DF = "spark.read.csv(str(EMBEDDINGS_CSV), header=True, inferSchema=True)"
#: A Q6 that reads the CSV itself, so that a wrong df (Q5) costs only Q5.
OWN_ASSEMBLED = (
    f"source = {SPARK_DF}\n"
    "raw = VectorAssembler(inputCols=[c for c in source.columns if c != 'image'], outputCol='raw_features')\n"
    "assembled = Normalizer(inputCol='raw_features', outputCol='features', p=2.0).transform(raw.transform(source))\n"
)
QUERY = "random.Random(SEED).choice(LAB.image_names)"
VECTOR_OF_QUERY = "hashed.filter(hashed['image'] == query_image).first()['features']"
OWN_FIGURE = (
    "rows = model.approxNearestNeighbors(hashed, query_vector, 5).orderBy('distCol').collect()\n"
    "fig, axes = plt.subplots(1, 5)\n"
    "for axis, row in zip(axes, rows):\n"
    "    axis.imshow(Image.open(LAB.image_dir / row['image']).convert('RGB'))\n"
)
NUMBER_COLUMNS = "[c for c in df.columns if c != 'image']"


def _assemble(columns: str = NUMBER_COLUMNS, p: str = "2.0") -> str:
    return (
        f"raw = VectorAssembler(inputCols={columns}, outputCol='raw_features')\n"
        f"normalizer = Normalizer(inputCol='raw_features', outputCol='features', p={p})\n"
        "assembled = normalizer.transform(raw.transform(df))\n"
    )


def _lsh(target: str = "model", column: str = "features", bucket: str = "BUCKET_LENGTH", seed: str = "SEED") -> str:
    seeded = f", seed={seed}" if seed else ""
    return (
        f"{target} = BucketedRandomProjectionLSH(inputCol='{column}', outputCol='hashes', bucketLength={bucket},\n"
        f"                                  numHashTables=NUM_HASH_TABLES{seeded}).fit(assembled)\n"
    )


RESIZE_LOOP = (
    "LAB.resized_dir.mkdir(parents=True, exist_ok=True)\n"
    "for name in LAB.image_names:\n"
    "    with Image.open(LAB.image_dir / name) as image:\n"
)


@dataclass(frozen=True)
class Mistake:
    """One plausible wrong answer: the cells it changes, the test it must fail, and what that test must say."""

    test: str  # the grade_id of the test that must fail
    what: str  # the mistake, for the README's list
    answers: dict[str, str]
    says: str  # words the feedback of that test must contain


MISTAKES: list[Mistake] = [
    Mistake(
        "q1_resize_224_jpeg",
        "cropped instead of resized",
        {
            "q1_answer": RESIZE_LOOP + "        crop = T.Compose([T.Resize(224), T.CenterCrop(224)])\n"
            "        crop(image.convert('RGB')).save(LAB.resized_dir / name)\n"
        },
        "cropped",
    ),
    Mistake(
        "q1_resize_224_jpeg",
        "mirrored",
        {
            "q1_answer": RESIZE_LOOP
            + "        flip = T.Compose([T.Resize((224, 224)), T.RandomHorizontalFlip(p=1.0)])\n"
            "        flip(image.convert('RGB')).save(LAB.resized_dir / name)\n"
        },
        "mirrored",
    ),
    Mistake(
        "q1_resize_224_jpeg",
        "grayscale photos kept grayscale (no convert('RGB'))",
        {"q1_answer": RESIZE_LOOP + "        T.Resize((224, 224))(image).save(LAB.resized_dir / name)\n"},
        "expected RGB",
    ),
    Mistake(
        "q1_resize_224_jpeg",
        "saved as PNG",
        {
            "q1_answer": RESIZE_LOOP
            + "        T.Resize((224, 224))(image.convert('RGB')).save(LAB.resized_dir / name, format='PNG')\n"
        },
        "format='JPEG'",
    ),
    Mistake(
        "q1_resize_224_jpeg",
        "aspect ratio kept (T.Resize(224))",
        {"q1_answer": RESIZE_LOOP + "        T.Resize(224)(image.convert('RGB')).save(LAB.resized_dir / name)\n"},
        "keeps the aspect ratio",
    ),
    Mistake(
        "q2_class_c_get_vec",
        "training mode (no model.eval())",
        {"q2_answer": _class_c(STANDARD, head=C_HEAD.replace(".eval()", ""))},
        "training mode",
    ),
    Mistake(
        "q2_class_c_get_vec",
        "no ImageNet normalisation",
        {"q2_answer": _class_c("T.Compose([T.Resize((224, 224)), T.ToTensor()])")},
        "without ImageNet normalisation",
    ),
    Mistake(
        "q2_class_c_get_vec",
        "wrong mean and std (0.5)",
        {"q2_answer": _class_c("T.Compose([T.Resize((224, 224)), T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)])")},
        "mean and std 0.5",
    ),
    Mistake(
        "q2_class_c_get_vec",
        "colour channels reversed (BGR)",
        {"q2_answer": _class_c(STANDARD, prepare="Image.merge('RGB', image.convert('RGB').split()[::-1])")},
        "BGR",
    ),
    Mistake(
        "q2_class_c_get_vec",
        "grayscale input",
        {"q2_answer": _class_c(STANDARD, prepare="image.convert('L').convert('RGB')")},
        "grey",
    ),
    Mistake(
        "q2_class_c_get_vec",
        "crop instead of resize",
        {"q2_answer": _class_c(f"T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), {NORMALIZE}])")},
        "crops the image",
    ),
    Mistake(
        "q2_class_c_get_vec",
        "final fc layer kept (1000 numbers)",
        {"q2_answer": _class_c(STANDARD, head=C_HEAD.replace("        model.fc = torch.nn.Identity()\n", ""))},
        "fc layer",
    ),
    Mistake(
        "q2_class_c_get_vec",
        "layer4's feature map before pooling",
        {
            "q2_answer": _class_c(
                STANDARD, output="torch.nn.Sequential(*list(self.model.children())[:-2])(batch).flatten().numpy()"
            )
        },
        "before the average pooling",
    ),
    Mistake(
        "q3_all_embeddings",
        "rows in another order than names",
        {"q3_answer": OWN_EMBEDDINGS.replace("FOLDER", "INPUT_DIR").replace("ORDER", "reversed(names)")},
        "not in the order of names",
    ),
    Mistake(
        "q3_all_embeddings",
        "the original photos embedded, not the resized ones",
        {"q3_answer": OWN_EMBEDDINGS.replace("FOLDER", "LAB.image_dir").replace("ORDER", "names")},
        "original photos",
    ),
    Mistake(
        "q3_all_embeddings",
        "the same image embedded for every row",
        {
            "q3_answer": OWN_EMBEDDINGS.replace("FOLDER / n", "FOLDER / names[0]")
            .replace("FOLDER", "INPUT_DIR")
            .replace("ORDER", "names")
        },
        "same vector",
    ),
    Mistake(
        "q3_all_embeddings",
        "only some images",
        {
            "q3_answer": OWN_EMBEDDINGS.replace("FOLDER", "INPUT_DIR")
            .replace("ORDER", "names")
            .replace("names = list(LAB.image_names)", "names = list(LAB.image_names)[:10]")
        },
        "each once",
    ),
    Mistake(
        "q4_embeddings_csv",
        "numbers rounded when written",
        {
            "q4_answer": "table = pd.DataFrame(vectors)\ntable.insert(0, 'image', names)\n"
            "table.to_csv(LAB.embeddings_csv, index=False, float_format='%.1f')\n"
        },
        "rounded to 1 decimal",
    ),
    Mistake(
        "q4_embeddings_csv",
        "image names next to other images' vectors",
        {
            "q4_answer": "table = pd.DataFrame(vectors)\ntable.insert(0, 'image', list(reversed(names)))\n"
            "table.to_csv(LAB.embeddings_csv, index=False)\n"
        },
        "another image than its name",
    ),
    Mistake(
        "q4_embeddings_csv",
        "the index written as a column",
        {
            "q4_answer": "table = pd.DataFrame(vectors)\ntable.insert(0, 'image', names)\n"
            "table.to_csv(LAB.embeddings_csv)\n"
        },
        "write the index too",
    ),
    Mistake(
        "q5_spark_dataframe",
        "read without header=True",
        {"q5_answer": "df = spark.read.csv(str(EMBEDDINGS_CSV), inferSchema=True)\n", "q6_answer": OWN_ASSEMBLED},
        "header=True",
    ),
    Mistake(
        "q5_spark_dataframe",
        "numbers read as strings (no inferSchema)",
        {"q5_answer": "df = spark.read.csv(str(EMBEDDINGS_CSV), header=True)\n", "q6_answer": OWN_ASSEMBLED},
        "inferSchema",
    ),
    Mistake(
        "q5_spark_dataframe",
        "columns reordered",
        {
            "q5_answer": f"df = {SPARK_DF}\ndf = df.select('image', *reversed({NUMBER_COLUMNS}))\n",
            "q6_answer": OWN_ASSEMBLED,
        },
        "another order",
    ),
    Mistake(
        "q5_spark_dataframe",
        "a pandas DataFrame",
        {"q5_answer": "import pandas as pd\ndf = pd.read_csv(EMBEDDINGS_CSV)\n", "q6_answer": OWN_ASSEMBLED},
        "Spark DataFrame",
    ),
    Mistake(
        "q6_features_vector",
        "not normalised",
        {"q6_answer": f"assembled = VectorAssembler(inputCols={NUMBER_COLUMNS}, outputCol='features').transform(df)\n"},
        "Normalizer(p=2.0)",
    ),
    Mistake("q6_features_vector", "normalised with p=1", {"q6_answer": _assemble(p="1.0")}, "p=1"),
    Mistake(
        "q6_features_vector",
        "columns sorted as text (v0, v1, v10, ...)",
        {"q6_answer": _assemble(columns=f"sorted({NUMBER_COLUMNS})")},
        "not sorted",
    ),
    Mistake("q7_brp_model", "no seed", {"q7_answer": _lsh(seed="")}, "seed=SEED"),
    Mistake("q7_brp_model", "another bucket length", {"q7_answer": _lsh(bucket="2.0")}, "BUCKET_LENGTH"),
    Mistake(
        "q7_brp_model",
        "fitted on the raw vectors",
        {"q7_answer": _lsh(column="raw_features")},
        "it must read 'features'",
    ),
    Mistake(
        "q8_hashed_dataframe",
        "transformed with another model",
        {"q8_answer": _lsh(target="other", seed="1") + "hashed = other.transform(assembled)\n"},
        "Q7's model",
    ),
    Mistake(
        "q8_hashed_dataframe",
        "only some rows",
        {"q8_answer": "hashed = model.transform(assembled).limit(10)\n"},
        "exactly once",
    ),
    Mistake(
        "q9_random_query_image",
        "a path instead of a file name",
        {
            "q9_answer": f"query_image = str(LAB.image_dir / {QUERY})\n",
            "q10_answer": f"query_image = {QUERY}\nquery_vector = {VECTOR_OF_QUERY}\n",
        },
        "a path",
    ),
    Mistake(
        "q9_random_query_image",
        "an image outside the run",
        {
            "q9_answer": "query_image = sorted(set(LAB.dataset.image_files()) - set(LAB.image_names))[0]\n",
            "q10_answer": f"query_image = {QUERY}\nquery_vector = {VECTOR_OF_QUERY}\n",
        },
        "not one of the",
    ),
    Mistake(
        "q9_random_query_image",
        "an index instead of a name",
        {
            "q9_answer": "query_image = random.Random(SEED).randrange(len(LAB.image_names))\n",
            "q10_answer": f"query_image = {QUERY}\nquery_vector = {VECTOR_OF_QUERY}\n",
        },
        "file name (str)",
    ),
    Mistake(
        "q10_query_vector",
        "the raw vector from the CSV",
        {
            "q10_answer": "import pandas as pd\n"
            "query_vector = pd.read_csv(EMBEDDINGS_CSV).set_index('image').loc[query_image].to_numpy()\n",
            "q11_answer": f"neighbors = model.approxNearestNeighbors(hashed, {VECTOR_OF_QUERY}, 5)\n",
        },
        "has length",
    ),
    Mistake(
        "q10_query_vector",
        "another image's vector",
        {
            "q10_answer": "query_vector = hashed.filter(hashed['image'] != query_image).first()['features']\n",
            "q11_answer": f"neighbors = model.approxNearestNeighbors(hashed, {VECTOR_OF_QUERY}, 5)\n",
        },
        "not of query_image",
    ),
    Mistake(
        "q10_query_vector",
        "the hashes instead of features",
        {
            "q10_answer": "query_vector = hashed.filter(hashed['image'] == query_image).first()['hashes']\n",
            "q11_answer": f"neighbors = model.approxNearestNeighbors(hashed, {VECTOR_OF_QUERY}, 5)\n",
        },
        "those are the hashes",
    ),
    Mistake(
        "q11_five_nearest_neighbors",
        "four neighbours",
        {"q11_answer": "neighbors = model.approxNearestNeighbors(hashed, query_vector, 4)\n", "q12_answer": OWN_FIGURE},
        "k=5",
    ),
    Mistake(
        "q11_five_nearest_neighbors",
        "queried with another image's vector",
        {
            "q11_answer": "other = hashed.filter(hashed['image'] != query_image).first()['features']\n"
            "neighbors = model.approxNearestNeighbors(hashed, other, 5)\n",
            "q12_answer": OWN_FIGURE,
        },
        "query_image itself should come first",
    ),
    Mistake(
        "q12_neighbor_figure",
        "the query five times",
        {
            "q12_answer": "fig, axes = plt.subplots(1, 5)\nfor axis in axes:\n"
            "    axis.imshow(Image.open(LAB.image_dir / query_image).convert('RGB'))\n"
        },
        "same picture 5 times",
    ),
    Mistake(
        "q12_neighbor_figure",
        "other images than the neighbours",
        {
            "q12_answer": "fig, axes = plt.subplots(1, 5)\nfor axis, name in zip(axes, LAB.image_names[-5:]):\n"
            "    axis.imshow(Image.open(LAB.image_dir / name).convert('RGB'))\n"
        },
        "not among the nearest neighbours",
    ),
    Mistake("q12_neighbor_figure", "no pictures", {"q12_answer": "fig = plt.figure()\n"}, "imshow"),
]


@dataclass(frozen=True)
class Alternative:
    """A right answer written otherwise than the solution: it must keep full marks."""

    cell: str  # the answer cell it replaces
    what: str
    code: str


#: Right answers a student may write instead of the solution's. :func:`submissions` puts each in a cell that no
#: mistake of a submission touches, so they cost no notebook run of their own; each must keep full marks.
ALTERNATIVES: list[Alternative] = [
    Alternative(
        "q4_answer",
        "other column names",
        "table = pd.DataFrame(vectors, columns=[f'feature_{i}' for i in range(512)])\n"
        "table.insert(0, 'image', names)\ntable.to_csv(LAB.embeddings_csv, index=False)\n",
    ),
    Alternative(
        "q4_answer",
        "the csv module",
        "import csv\nwith open(LAB.embeddings_csv, 'w', newline='') as stream:\n    writer = csv.writer(stream)\n"
        "    writer.writerow(['image'] + [str(i) for i in range(vectors.shape[1])])\n"
        "    for name, vector in zip(names, vectors):\n        writer.writerow([name] + [float(x) for x in vector])\n",
    ),
    Alternative(
        "q4_answer",
        "the image as the index, 7 significant digits",
        "table = pd.DataFrame(np.asarray(vectors), index=pd.Index(names, name='image'))\n"
        "table.columns = [f'x{i}' for i in table.columns]\n"
        "table.reset_index().to_csv(LAB.embeddings_csv, index=False, float_format='%.7g')\n",
    ),
    Alternative(
        "q5_answer",
        "format and load",
        "df = spark.read.format('csv').options(header='true', inferSchema='true').load(str(EMBEDDINGS_CSV))\n",
    ),
    Alternative(
        "q5_answer",
        "an explicit schema",
        "import pandas as pd\nfrom pyspark.sql.types import DoubleType, StringType, StructField, StructType\n"
        "header = list(pd.read_csv(EMBEDDINGS_CSV, nrows=0).columns)\n"
        "schema = StructType([StructField(header[0], StringType())]\n"
        "                    + [StructField(column, DoubleType()) for column in header[1:]])\n"
        "df = spark.read.csv(str(EMBEDDINGS_CSV), header=True, schema=schema)\n",
    ),
    Alternative(
        "q5_answer", "through pandas", "import pandas as pd\ndf = spark.createDataFrame(pd.read_csv(EMBEDDINGS_CSV))\n"
    ),
    Alternative(
        "q7_answer",
        "setters",
        "brp = BucketedRandomProjectionLSH().setInputCol('features').setOutputCol('hashes')\n"
        "brp = brp.setBucketLength(BUCKET_LENGTH).setNumHashTables(NUM_HASH_TABLES).setSeed(SEED)\n"
        "model = brp.fit(assembled)\n",
    ),
    Alternative(
        "q7_answer",
        "fitted on two columns",
        "brp = BucketedRandomProjectionLSH(inputCol='features', outputCol='hashes', seed=SEED,\n"
        "                                  numHashTables=NUM_HASH_TABLES, bucketLength=BUCKET_LENGTH)\n"
        "model = brp.fit(assembled.select('image', 'features'))\n",
    ),
    Alternative("q8_answer", "cached", "hashed = model.transform(assembled).cache()\nhashed.count()\n"),
    Alternative(
        "q8_answer", "three columns", "hashed = model.transform(assembled).select('image', 'features', 'hashes')\n"
    ),
    Alternative("q9_answer", "random.seed", "random.seed(SEED)\nquery_image = random.choice(LAB.image_names)\n"),
    Alternative(
        "q9_answer",
        "numpy",
        "import numpy as np\nquery_image = str(np.random.default_rng(SEED).choice(LAB.image_names))\n",
    ),
    Alternative(
        "q9_answer",
        "a row of hashed",
        "from pyspark.sql import functions as F\nquery_image = hashed.orderBy(F.rand(SEED)).first()['image']\n",
    ),
    Alternative(
        "q11_answer",
        "keywords, ordered",
        "neighbors = model.approxNearestNeighbors(dataset=hashed, key=query_vector, numNearestNeighbors=5)"
        ".orderBy('distCol')\n",
    ),
    Alternative(
        "q12_answer",
        "add_subplot, distance column found",
        "distance = [c for c in neighbors.columns if c not in ('image', 'features', 'hashes', 'raw_features')][0]\n"
        "rows = neighbors.orderBy(distance).collect()\nfig = plt.figure(figsize=(15, 3))\n"
        "for i, row in enumerate(rows):\n    axis = fig.add_subplot(1, len(rows), i + 1)\n"
        "    axis.imshow(Image.open(LAB.image_dir / row['image']))\n    axis.axis('off')\n",
    ),
]


def _notebook_of() -> dict[str, str]:
    return {grade_id(cell): name for name, cells in source_cells().items() for cell in cells if grade_id(cell)}


def submissions() -> dict[str, Crafted]:
    """Every mistake in as few submissions as possible: no two in one submission touch the same answer cell."""
    notebook_of = _notebook_of()
    packs: list[list[Mistake]] = []
    for mistake in MISTAKES:
        pack = next(
            (pack for pack in packs if not set(mistake.answers) & {cell for m in pack for cell in m.answers}), None
        )
        if pack is None:
            packs.append(pack := [])
        pack.append(mistake)
    notebooks = [{notebook_of[m.test] for m in pack} for pack in packs]
    answers = [{cell: code for m in pack for cell, code in m.answers.items()} for pack in packs]
    for pack_answers in answers:
        if "q2_answer" in pack_answers:  # Q3 must not inherit a wrong class C
            pack_answers.setdefault(
                "q3_answer", OWN_EMBEDDINGS.replace("FOLDER", "INPUT_DIR").replace("ORDER", "names")
            )
    for alternative in ALTERNATIVES:
        free = [
            index
            for index, pack_answers in enumerate(answers)
            if notebook_of[alternative.cell] in notebooks[index] and alternative.cell not in pack_answers
        ]
        if not free:
            raise ValueError(f"no mistake's submission leaves {alternative.cell} free for {alternative.what!r}")
        answers[free[0]][alternative.cell] = alternative.code
    assert all(m.test in test_points() for m in MISTAKES)
    return {
        f"mistakes_{number:02d}": Crafted(
            answers=pack_answers,
            notebooks=tuple(name for name in notebook_names() if name in pack_notebooks),
            loses=tuple(m.test for m in pack),
            says={m.test: m.says for m in pack},
        )
        for number, (pack, pack_notebooks, pack_answers) in enumerate(zip(packs, notebooks, answers), start=1)
    }
