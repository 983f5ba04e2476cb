"""The shape of the synthetic data, as data: the real row counts, the seven files, the
chunk size and floors, and the vocabularies with their per-type weights and shares.

Nothing here draws or writes; the weights are read by :mod:`.world` and :mod:`.chunks`.
Per-type arrays are indexed by the type codes ``T_*`` (the order of ``TYPES``); the
category codes ``C_*`` follow the order of ``CATEGORIES``.
"""

from __future__ import annotations

import numpy as np

from ingest.schemas import (
    NAME_BASICS,
    TITLE_AKAS,
    TITLE_BASICS,
    TITLE_CREW,
    TITLE_EPISODE,
    TITLE_PRINCIPALS,
    TITLE_RATINGS,
    ImdbFile,
)

# Real row counts, 2026-05 (title.crew: one per title; title.episode: the tvEpisodes).
REAL_ROWS: dict[str, int] = {
    "title.basics": 12_500_000,
    "title.akas": 57_000_000,
    "title.crew": 12_500_000,
    "title.episode": 9_600_000,
    "title.principals": 99_300_000,
    "title.ratings": 1_670_000,
    "name.basics": 15_300_000,
}
FILES: tuple[ImdbFile, ...] = (
    TITLE_BASICS,
    TITLE_AKAS,
    TITLE_CREW,
    TITLE_EPISODE,
    TITLE_PRINCIPALS,
    TITLE_RATINGS,
    NAME_BASICS,
)
CHUNK = 50_000  # titles (or people) per chunk: the unit of RNG streams and of writing
MIN_TITLES = 40
MIN_NAMES = 50
EARLY = 0.002  # share of the first tconsts that are 1874-1919 shorts and movies
LAST_YEAR = 2026
FIRST_YEAR = 1874

# ------------------------------------------------------------------------------------------
# vocabularies

TYPES = (
    "movie",
    "short",
    "tvEpisode",
    "tvSeries",
    "video",
    "tvMovie",
    "tvMiniSeries",
    "tvSpecial",
    "videoGame",
    "tvShort",
    "tvPilot",
)
(
    T_MOVIE,
    T_SHORT,
    T_EPISODE,
    T_SERIES,
    T_VIDEO,
    T_TVMOVIE,
    T_MINI,
    T_SPECIAL,
    T_GAME,
    T_TVSHORT,
    T_PILOT,
) = range(len(TYPES))
TYPE_P = np.array([0.060, 0.0972, 0.768, 0.0235, 0.025, 0.0125, 0.0055, 0.004, 0.0035, 0.0008, 0])
TYPE_P = TYPE_P / TYPE_P.sum()
# per type: P(rated); the tvEpisode value is solved below so that the total is 13.36%
RATED_P = np.array([0.45, 0.18, 0.0, 0.40, 0.20, 0.40, 0.42, 0.30, 0.40, 0.25, 0.5])
RATED_P[T_EPISODE] = (
    REAL_ROWS["title.ratings"] / REAL_ROWS["title.basics"] - (TYPE_P * RATED_P).sum()
) / TYPE_P[T_EPISODE]
# per type: offset of log(numVotes - 4) and of the mean rating
VOTES_MU = np.array([1.35, -0.25, -0.12, 0.85, 0.0, 0.45, 0.75, 0.1, 0.6, -0.2, 0.0])
RATING_OFF = np.array([-0.85, 0.0, 0.30, -0.05, -0.4, -0.55, -0.05, -0.2, -0.1, 0.0, 0.0])
# per type: runtime (median minutes, P(null)); P(genres null)
RUNTIME = np.array([94, 11, 30, 42, 60, 88, 52, 70, 0, 9, 45])
RUNTIME_NULL = np.array([0.28, 0.45, 0.78, 0.5, 0.55, 0.3, 0.45, 0.5, 1.0, 0.5, 0.5])
GENRES_NULL = np.array([0.04, 0.02, 0.45, 0.05, 0.08, 0.06, 0.05, 0.12, 0.05, 0.05, 0.1])
# per type: offset of log(principals count); P(has principals)
PRINC_MU = np.array([0.45, -0.25, 0.0, 0.1, -0.1, 0.3, 0.3, 0.2, 0.35, -0.3, 0.0])
PRINC_P = np.array([0.97, 0.93, 0.89, 0.93, 0.9, 0.95, 0.95, 0.9, 0.9, 0.9, 0.9])
# per type: offset of log(akas count - 1)
AKAS_MU = np.array([1.2, 0.2, -0.1, 0.7, 0.0, 0.5, 0.5, 0.2, 0.4, 0.0, 0.0])

GENRES = (
    "Action", "Adult", "Adventure", "Animation", "Biography", "Comedy", "Crime",
    "Documentary", "Drama", "Family", "Fantasy", "Film-Noir", "Game-Show", "History",
    "Horror", "Music", "Musical", "Mystery", "News", "Reality-TV", "Romance", "Sci-Fi",
    "Short", "Sport", "Talk-Show", "Thriller", "War", "Western",
)  # fmt: skip
GENRE_W = np.array(
    [4, 1.5, 3.5, 4, 1.5, 17, 4, 10, 25, 4, 2, 0.05, 2.5, 1.5, 2.5, 3, 0.6, 2, 3, 5, 5,
     1.5, 2, 1.5, 6, 3, 0.6, 0.5]
)  # fmt: skip
GENRE_SHORT = GENRES.index("Short")

CATEGORIES = (
    "actor",
    "actress",
    "self",
    "archive_footage",
    "archive_sound",
    "director",
    "writer",
    "producer",
    "composer",
    "cinematographer",
    "editor",
    "production_designer",
    "casting_director",
)  # fmt: skip  (billing order: cast first, then crew)
CAT_W = np.array([23, 15, 13, 0.8, 0.05, 8.5, 11, 8, 4, 4, 4, 1.2, 1.0])
C_ACTOR, C_ACTRESS, C_SELF, C_ARCHIVE, C_ARCHIVE_SOUND, C_DIRECTOR, C_WRITER, C_PRODUCER = range(8)
N_CAST = 5  # categories 0..4 are billed in random order, the crew after in the order above

JOBS = {
    "director": (0.03, ("co-director", "directed by", "segment director")),
    "writer": (0.6, ("screenplay", "novel", "story", "written by", "creator",
                     "based on characters created by", "teleplay", "book", "play")),
    "producer": (0.95, ("producer", "executive producer", "co-producer", "line producer",
                        "associate producer", "co-executive producer")),
    "composer": (0.04, ("original music", "music by")),
    "cinematographer": (0.35, ("director of photography", "cinematographer")),
    "editor": (0.05, ("film editor", "editor")),
    "production_designer": (0.1, ("production designer",)),
    "casting_director": (0.05, ("casting", "casting director")),
}  # fmt: skip

PROFESSIONS = (
    "actor", "actress", "miscellaneous", "producer", "writer", "director",
    "camera_department", "editor", "composer", "cinematographer", "sound_department",
    "art_department", "visual_effects", "animation_department", "music_department",
    "make_up_department", "costume_department", "editorial_department", "stunts",
    "assistant_director", "casting_department", "production_manager", "soundtrack",
    "self", "archive_footage", "executive", "talent_agent", "special_effects",
    "transportation_department", "script_department", "location_management",
    "art_director", "set_decorator", "production_designer", "casting_director",
    "costume_designer", "publicist", "manager", "legal", "podcaster",
)  # fmt: skip
PROF_W = np.array(
    [20, 14, 9, 8, 7, 6, 4, 3, 3, 2, 3, 2, 2, 1.5, 2, 2, 1.5, 1.5, 1, 1, 1, 1, 3, 2, 0.5,
     0.5, 0.2, 0.8, 0.5, 0.8, 0.4, 0.5, 0.5, 0.4, 0.4, 0.5, 0.2, 0.2, 0.1, 0.2]
)  # fmt: skip

REGIONS = (
    "US", "GB", "FR", "DE", "ES", "IT", "JP", "BR", "IN", "CA", "MX", "RU", "PT", "GR",
    "HU", "PL", "TR", "SE", "FI", "NL", "AR", "AU", "XWW", "KR", "CN", "TW", "DK", "NO",
    "BE", "AT", "CZ", "RO", "BG", "UA", "RS", "HR", "IL", "EG", "IR", "PH", "ID", "VN",
    "TH", "HK", "SG", "ZA", "NG", "CO", "CL", "PE", "VE", "UY", "IE", "NZ", "SUHH", "XYU",
    "CSHH", "DDDE", "XEU", "XAS",
)  # fmt: skip
LANGUAGES = (
    "en", "es", "fr", "ja", "de", "hi", "ru", "pt", "tr", "qbn", "cmn", "yue", "it", "sv",
    "ca", "fa", "ar", "he", "ta", "te", "bg", "uk", "sr", "hr", "cs", "pl", "el", "nl",
    "ko", "th", "eu", "gl", "qbp", "qbo", "rn",
)  # fmt: skip
AKA_TYPES = ("imdbDisplay", "alternative", "working", "dvd", "festival", "tv", "video")
AKA_TYPES_W = np.array([55, 12, 6, 10, 6, 7, 4])
AKA_ATTRIBUTES = (
    "literal English title", "alternative spelling", "short title", "new title",
    "dubbed version", "complete title", "reissue title", "promotional title",
    "transliterated title", "informal title", "working title", "8mm release title",
    "literal title", "long title", "subtitle version", "Blu-ray title", "video box title",
    "poster title", "censorship title", "cable TV title", "premiere title", "TV title",
)  # fmt: skip

TITLE_WORDS = (
    "The", "The", "The", "A", "Of", "In", "Love", "Night", "Man", "Woman", "Life", "Day",
    "Story", "World", "House", "Girl", "Boy", "Last", "First", "Dark", "Time", "Dead",
    "Blood", "Secret", "City", "Home", "Little", "Big", "Black", "White", "Red", "Blue",
    "Lost", "New", "Return", "Road", "Heart", "Dream", "Shadow", "King", "Queen", "War",
    "Game", "Family", "Music", "Summer", "Winter", "Christmas", "Island", "River", "Star",
    "Sun", "Moon", "Fire", "Water", "Ghost", "Devil", "Angel", "Murder", "Mystery", "Part",
    "Show", "Live", "Special", "Chapter", "Journey", "Escape", "Kill", "Money", "Power",
    "Stranger", "Lady", "Mr.", "Mrs.", "Dr.", "Doctor", "Police", "School", "Friends",
    "Brothers", "Sisters", "Mother", "Father", "Child", "Children", "Wild", "West", "East",
    "North", "South", "Paradise", "Hell", "Heaven", "Golden", "Silver", "Iron", "Glass",
    "Paper", "Stone", "Forever", "Tonight", "Tomorrow", "Yesterday", "Again", "Alone",
    "Together", "Beyond", "Under", "Over", "Inside", "Outside", "Edge", "End", "Beginning",
    "Legend", "Hero", "Monster", "Machine", "Planet", "Space", "Ocean", "Sea", "Mountain",
    "Garden", "Train", "Car", "Bridge", "Wall", "Door", "Window", "Mirror", "Letter",
    "Song", "Dance", "Party", "Wedding", "Funeral", "Birthday", "Holiday", "Vacation",
    "Revenge", "Justice", "Truth", "Lies", "Sins", "Secrets", "Memories", "Whispers",
    "Echoes", "Fear", "Hope", "Faith", "Rain", "Snow", "Storm", "Wind", "Thunder", "Light",
    "Don't", "Ocean's", "Can't", "It's", "Rock'n'Roll", "O'Malley's", "Jack's", "Mom's",
    "1", "2", "3", "II", "III", "2000", "Vol.", "&", "-", "vs.", "and", "to", "for", "with",
    "on", "at", "from", "Café", "Straße", "東京", "Amélie", "Zürich", "São Paulo",
    "Kraków", "Crème", "naïve", "Müller", "Über", "Niño", "Señor", "Łódź", "Москва",
    "Ночь", "Любовь", "愛", "物語", "夏", "사랑", "Αθήνα", "İstanbul", "Ça", "Ørsted",
)  # fmt: skip
FOREIGN_WORDS = (
    "Le", "La", "Les", "Der", "Die", "Das", "El", "Los", "Il", "Lo", "Det", "De", "Het",
    "amour", "nuit", "vie", "monde", "Liebe", "Nacht", "Leben", "Welt", "Tod", "amor",
    "noche", "vida", "mundo", "muerte", "amore", "notte", "vita", "mondo", "morte", "kärlek",
    "natt", "liv", "sommer", "rakkaus", "yö", "elämä", "szerelem", "éjszaka", "élet",
    "miłość", "noc", "życie", "láska", "život", "dragoste", "noapte", "viață", "aşk", "gece",
    "hayat", "Ночь", "Любовь", "Жизнь", "Мир", "Смерть", "東京", "物語", "愛", "夜", "人生",
    "世界", "死", "夏", "の", "と", "사랑", "밤", "인생", "세계", "Αγάπη", "Νύχτα", "Ζωή",
    "Κόσμος", "अंधेरा", "प्यार", "ज़िंदगी", "حب", "ليل", "حياة", "אהבה", "לילה", "Straße",
    "Mädchen", "Größe", "Fräulein", "Château", "Été", "Garçon", "Über", "Señora", "Niña",
    "Coração", "São", "Ação", "Ñandú", "Øyet", "Ærø", "Ålesund", "Zoë", "Çalı", "Ğ",
)  # fmt: skip
FIRST_NAMES = (
    "John", "Mary", "James", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty",
    "Mark", "Margaret", "Paul", "Sandra", "Steven", "Ashley", "Andrew", "Emily", "Kenneth",
    "Donna", "George", "Michelle", "Peter", "Carol", "Anna", "Maria", "Hans", "Jean",
    "Pierre", "Marie", "Giuseppe", "Giulia", "Carlos", "José", "Lucía", "Zoë", "Björn",
    "Søren", "Jürgen", "François", "Hélène", "Chloé", "Noémie", "André", "Ramón", "Íñigo",
    "Małgorzata", "Łukasz", "Dmitriy", "Olga", "Yuki", "Hiroshi", "Akira", "Mei", "Wei",
    "Raj", "Priya", "Amit", "Ahmed", "Fatima", "Mohammed", "Ali", "Kwame", "Ngozi", "Sean",
    "Siobhán", "Aoife", "Ewan", "Isla", "Kai", "Lars", "Ingrid", "Astrid", "Sven", "Anders",
    "Mikko", "Aino", "Kristóf", "Zsófia", "Bogdan", "Ioana", "Arjun", "Kateřina", "Jiří",
    "Ömer", "Ayşe", "Dũng", "Thảo", "Min-jun", "Seo-yeon", "Keanu", "Dwayne", "Morgan",
    "Jamie", "Alex", "Sam", "Chris", "Pat", "Robin", "Jordan", "Taylor", "Casey", "D'Arcy",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
    "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen",
    "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams",
    "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Müller", "Schmidt", "Schneider", "Fischer", "Weiß", "Groß", "Köhler", "Dubois",
    "Lefèvre", "Bernard", "Moreau", "Girard", "Rossi", "Russo", "Ferrari", "Esposito",
    "Bianchi", "Romano", "Fernández", "González", "Pérez", "Sánchez", "Gómez", "Muñoz",
    "Núñez", "Silva", "Santos", "Oliveira", "Souza", "Conceição", "Ivanov", "Smirnov",
    "Kuznetsov", "Popov", "Kowalski", "Wiśniewski", "Wójcik", "Novák", "Dvořák", "Horváth",
    "Nagy", "Kovács", "Popescu", "Yılmaz", "Kaya", "Öztürk", "Andersson", "Johansson",
    "Nielsen", "Jensen", "Hansen", "Sørensen", "Virtanen", "Korhonen", "Tanaka", "Suzuki",
    "Takahashi", "Watanabe", "Sato", "Wang", "Li", "Zhang", "Liu", "Chen", "Kim", "Park",
    "Choi", "Singh", "Kumar", "Sharma", "Patel", "Khan", "Ali", "Hassan", "O'Brien",
    "O'Connor", "O'Neill", "D'Angelo", "McDonald", "MacLeod", "Van der Berg", "de la Cruz",
    "von Trier", "Ó Súilleabháin", "Nguyễn", "Trần", "北野", "黒澤", "Иванов",
)  # fmt: skip
NICKNAMES = ("The Rock", "Big Mike", "Lefty", "Doc", "Kid", "Sonny", "Bud", "Red", "Ace")
SELF_CHARACTERS = (
    "Self", "Self", "Self", "Self", "Self", "Self", "Himself", "Herself", "Self - Host",
    "Self - Guest", "Self - Contestant", "Self - Presenter", "Host", "Narrator",
)  # fmt: skip
ROLE_CHARACTERS = (
    "Narrator", "Himself", "Herself", "Dr. Smith", "Police Officer", "Nurse", "Waitress",
    "Bartender", "Detective", "The Man", "The Woman", "Mom", "Dad", "Young Boy",
    "Girl #2", "Additional Voices", "Soldier", "Reporter", "Doctor", "Priest",
)  # fmt: skip
