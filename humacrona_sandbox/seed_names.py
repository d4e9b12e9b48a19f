"""Word lists behind the seed data: Nordic names, real postal codes with their cities, streets, job titles.

Kept apart from the generator so the lists can grow without touching its logic. Tuples, not sets: the
generator indexes them with a seeded RNG, and the order must never depend on hashing."""

from __future__ import annotations

SWEDISH_GIVEN_NAMES: tuple[str, ...] = (
    "Anna", "Eva", "Maria", "Karin", "Kristina", "Lena", "Sara", "Kerstin", "Emma", "Ingrid",
    "Marie", "Malin", "Jenny", "Hanna", "Linda", "Annika", "Susanne", "Elin", "Monica", "Birgitta",
    "Åsa", "Märta", "Ulla", "Sofia", "Ida", "Johanna", "Camilla", "Helena", "Therese", "Julia",
    "Elsa", "Alice", "Maja", "Ebba", "Wilma", "Agnes", "Astrid", "Saga", "Linnéa", "Frida",
    "Anna-Karin", "Ann-Sofie", "Eva-Lena", "Renée", "Zoé", "Fatima", "Leyla", "Elif", "Amira", "Noor",
    "Lars", "Mikael", "Anders", "Johan", "Per", "Erik", "Karl", "Peter", "Thomas", "Jan",
    "Daniel", "Fredrik", "Hans", "Stefan", "Mats", "Magnus", "Andreas", "Niklas", "Marcus", "Jonas",
    "Björn", "Jörgen", "Göran", "Mårten", "Östen", "Sölve", "Åke", "Håkan", "Örjan", "Gösta",
    "Oscar", "Viktor", "Gustav", "Axel", "Filip", "Hugo", "Elias", "Ludvig", "Olle", "Sixten",
    "Karl-Johan", "Lars-Erik", "Per-Olof", "André", "José", "Mohammed", "Ali", "Ahmed", "Emir", "Amir",
)

SWEDISH_FAMILY_NAMES: tuple[str, ...] = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
    "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson", "Bengtsson", "Jönsson",
    "Lindberg", "Jakobsson", "Magnusson", "Olofsson", "Lindström", "Lindqvist", "Lindgren", "Berg",
    "Axelsson", "Bergström", "Lundberg", "Lundgren", "Lind", "Mattsson", "Berglund", "Fredriksson",
    "Sandberg", "Henriksson", "Forsberg", "Sjöberg", "Wallin", "Engström", "Eklund", "Danielsson",
    "Lundin", "Håkansson", "Björk", "Bergman", "Gunnarsson", "Holm", "Wikström", "Samuelsson",
    "Isaksson", "Fransson", "Bergqvist", "Nyström", "Holmberg", "Arvidsson", "Löfgren", "Söderberg",
    "Nyberg", "Blomqvist", "Claesson", "Nordström", "Mårtensson", "Lundström", "Viklund", "Björklund",
    "Eliasson", "Pålsson", "Berggren", "Sandström", "Nordin", "Ström", "Åberg", "Hermansson",
    "Ekström", "Falk", "Holmgren", "Dahlberg", "Hellström", "Hedlund", "Sundberg", "Sjögren",
    "Ek", "Blom", "Abrahamsson", "Martinsson", "Öberg", "Andreasson", "Strömberg", "Månsson",
    "Åkesson", "Jonasson", "Norberg", "Åström", "Söderström", "Lagerlöf", "af Klint", "Ali",
    "Mohammed", "Hassan", "Nguyen", "Yilmaz", "Kaya", "Ahmed", "Ibrahim", "Nowak", "Kovačević",
)

NORWEGIAN_GIVEN_NAMES: tuple[str, ...] = (
    "Kari", "Ingrid", "Anne", "Marit", "Liv", "Hilde", "Silje", "Ragnhild", "Solveig", "Kjersti",
    "Sigrid", "Åse", "Gunnhild", "Tone", "Randi", "Nora", "Ingeborg", "Thea", "Sølvi", "Bjørg",
    "Astrid", "Tuva", "Maren", "Ane", "Hege", "Øydis", "Guro", "Vibeke", "Mette", "Synnøve",
    "Ole", "Lars", "Per", "Jan", "Bjørn", "Knut", "Tor", "Trond", "Eirik", "Espen",
    "Øyvind", "Ørjan", "Håkon", "Kåre", "Jørgen", "Ståle", "Sindre", "Vegard", "Torstein", "Sverre",
    "Magnus", "Henrik", "Sondre", "Halvard", "Asbjørn", "Geir", "Stian", "Jan-Erik", "Tor-Arne", "Even",
)

NORWEGIAN_FAMILY_NAMES: tuple[str, ...] = (
    "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen",
    "Jensen", "Karlsen", "Johnsen", "Pettersen", "Eriksen", "Berg", "Haugen", "Hagen",
    "Johannessen", "Andreassen", "Jacobsen", "Dahl", "Jørgensen", "Halvorsen", "Henriksen", "Lund",
    "Sørensen", "Moen", "Gundersen", "Iversen", "Strand", "Solberg", "Svendsen", "Eide",
    "Knutsen", "Martinsen", "Paulsen", "Bakken", "Kristoffersen", "Mathisen", "Lie", "Amundsen",
    "Rasmussen", "Lunde", "Solheim", "Berge", "Moe", "Nygård", "Bakke", "Fredriksen",
    "Lien", "Hauge", "Myhre", "Sæther", "Næss", "Aas", "Rønning", "Ødegård",
    "Sørlie", "Østby", "Øverland", "Brække", "Kværne", "Sæbø", "Ærlig", "Birkeland",
)

# Given names that read like a second given name on a payroll record ("Anna" in Huma, "Anna Maria" in Crona).
SECOND_GIVEN_NAMES: tuple[str, ...] = ("Maria", "Elisabeth", "Johan", "Erik", "Louise", "Kristian", "Margareta", "Olof")

# (city, postal codes as written locally). Swedish codes "NNN NN", Norwegian four digits; all real codes of the city.
SWEDISH_CITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Stockholm", ("111 20", "111 52", "112 21", "113 51", "114 34", "115 27", "116 46", "117 43", "118 20",
                   "118 61")),
    ("Stockholm", ("112 51", "113 30", "114 55", "116 28", "117 26", "120 30", "129 30", "168 67", "122 38", "124 31")),
    ("Göteborg", ("411 05", "411 38", "412 58", "413 01", "414 63", "415 02", "416 64", "417 05", "418 71")),
    ("Malmö", ("211 18", "211 43", "212 14", "214 21", "215 52", "216 14", "217 45")),
    ("Uppsala", ("752 28", "753 10", "753 20", "754 30", "756 45", "757 54")),
    ("Västerås", ("722 12", "722 15", "723 35", "724 60", "724 81")),
    ("Örebro", ("702 10", "702 24", "703 45", "703 61")),
    ("Linköping", ("582 25", "582 46", "583 30", "587 31")),
    ("Umeå", ("903 26", "903 33", "904 20", "906 51")),
    ("Luleå", ("972 31", "973 32", "974 34")),
    ("Jönköping", ("553 16", "553 21", "554 39", "556 12")),
    ("Helsingborg", ("252 20", "252 25", "254 38")),
    ("Norrköping", ("602 24", "603 59", "604 16")),
    ("Lund", ("222 21", "223 50", "224 66")),
    ("Gävle", ("802 50", "803 11", "805 92")),
    ("Sundsvall", ("852 30", "853 56")),
    ("Karlstad", ("652 24", "653 40")),
    ("Växjö", ("352 30", "352 46")),
    ("Solna", ("169 70", "171 48")),
    ("Nacka", ("131 40", "131 52")),
)

NORWEGIAN_CITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Oslo", ("0150", "0152", "0159", "0171", "0252", "0357", "0454", "0462", "0555", "0562", "0653", "0664")),
    ("Bergen", ("5003", "5004", "5006", "5007", "5011", "5014", "5015", "5031", "5052", "5063")),
    ("Trondheim", ("7010", "7011", "7012", "7013", "7014", "7030", "7041", "7042")),
    ("Stavanger", ("4006", "4007", "4008", "4009", "4010", "4011", "4012", "4014")),
    ("Kristiansand", ("4610", "4611", "4612", "4613")),
    ("Tromsø", ("9008", "9009", "9010", "9011")),
    ("Drammen", ("3015", "3016", "3017", "3018")),
    ("Fredrikstad", ("1606", "1607", "1608")),
    ("Bodø", ("8006", "8008", "8009")),
    ("Ålesund", ("6002", "6003", "6004", "6005")),
)

# Streets that exist in (nearly) every Swedish or Norwegian town, plus well-known streets of the big cities.
SWEDISH_STREETS_ANYWHERE: tuple[str, ...] = (
    "Storgatan", "Drottninggatan", "Kungsgatan", "Kyrkogatan", "Skolgatan", "Nygatan", "Torggatan",
    "Parkgatan", "Trädgårdsgatan", "Järnvägsgatan", "Björkvägen", "Tallvägen", "Granvägen", "Ekvägen",
    "Lönnvägen", "Ängsvägen", "Solvägen", "Bäckvägen", "Åsgatan", "Hamngatan", "Västra Vägen", "Östra Långgatan",
)
SWEDISH_CITY_STREETS: dict[str, tuple[str, ...]] = {
    "Stockholm": ("Sveavägen", "Hantverkargatan", "Götgatan", "Ringvägen", "Sankt Eriksgatan", "Fleminggatan",
                  "Odengatan", "Karlavägen", "Östermalmsgatan", "Brahegatan", "Nybrogatan", "Hornsgatan"),
    "Göteborg": ("Linnégatan", "Kungsportsavenyen", "Järntorgsgatan", "Södra vägen", "Östra Hamngatan",
                 "Vasagatan", "Övre Husargatan"),
    "Malmö": ("Södergatan", "Regementsgatan", "Amiralsgatan", "Föreningsgatan", "Bergsgatan"),
    "Uppsala": ("Svartbäcksgatan", "Dragarbrunnsgatan", "Sysslomansgatan", "Luthagsesplanaden"),
}
NORWEGIAN_STREETS_ANYWHERE: tuple[str, ...] = (
    "Storgata", "Kirkegata", "Skoleveien", "Kirkeveien", "Parkveien", "Granveien", "Bjørkeveien",
    "Furuveien", "Solbakken", "Sjøgata", "Strandveien", "Havnegata", "Torggata", "Løkkeveien",
)
NORWEGIAN_CITY_STREETS: dict[str, tuple[str, ...]] = {
    "Oslo": ("Karl Johans gate", "Thorvald Meyers gate", "Markveien", "Bogstadveien", "Hegdehaugsveien",
             "Trondheimsveien", "Møllergata", "Pilestredet", "Ullevålsveien", "Bygdøy allé", "Frognerveien"),
    "Bergen": ("Torgallmenningen", "Strandgaten", "Kong Oscars gate", "Nygårdsgaten", "Christies gate"),
    "Trondheim": ("Munkegata", "Olav Tryggvasons gate", "Kongens gate", "Prinsens gate", "Dronningens gate"),
    "Stavanger": ("Pedersgata", "Klubbgata", "Madlaveien", "Kongsgata"),
}

# Job titles as companies in Sweden and Norway actually write them: a Swedish/English mix. Repeats weight
# the common ones; no "VD"/"Daglig leder", which a company has once.
JOB_TITLES: tuple[str, ...] = (
    "Lönespecialist", "Löneadministratör", "HR-chef", "HR-generalist", "HR Business Partner", "Rekryterare",
    "Backend Developer", "Backend Developer", "Frontend Developer", "Fullstack-utvecklare", "Systemutvecklare",
    "Systemutvecklare", "Mjukvaruutvecklare", "Data Engineer", "Data Analyst", "DevOps Engineer", "QA-ingenjör",
    "Tech Lead", "Engineering Manager", "Produktägare", "Product Manager", "UX-designer", "Säljare", "Säljare",
    "Säljare", "Account Manager", "Key Account Manager", "Försäljningschef", "Kundtjänstmedarbetare",
    "Kundtjänstmedarbetare", "Kundtjänstmedarbetare", "Customer Success Manager", "Ekonomiassistent",
    "Redovisningsekonom", "Controller", "Marknadskoordinator", "Marketing Manager", "Kommunikatör",
    "Projektledare", "Scrum Master", "Lagerarbetare", "Lagerarbetare", "Truckförare", "Butikssäljare",
    "Receptionist", "Office Manager", "Teamledare", "Driftchef", "IT-tekniker", "Supporttekniker", "Inköpare",
    "Logistiker", "Jurist", "Affärsutvecklare", "Konsult",
)
NORWEGIAN_JOB_TITLES: tuple[str, ...] = (
    "Lønnskonsulent", "Selger", "Selger", "Utvikler", "Prosjektleder", "Regnskapsfører", "Kundebehandler",
    "Kundebehandler", "Avdelingsleder", "Rådgiver", "Lagermedarbeider", "Butikkmedarbeider",
)

PRIVATE_EMAIL_DOMAINS_SE: tuple[str, ...] = (
    "gmail.com", "gmail.com", "hotmail.se", "outlook.com", "live.se", "icloud.com",
)
PRIVATE_EMAIL_DOMAINS_NO: tuple[str, ...] = (
    "gmail.com", "gmail.com", "live.no", "online.no", "outlook.com", "hotmail.com",
)

# Where people in Sweden keep their salary account, as weights per clearing range (bank name, first
# clearing number of the range as crona_accounts.CLEARING_RANGES lists it). Ranges not named here get
# OTHER_BANK_WEIGHT each, so small banks still turn up now and then.
BANK_RANGE_WEIGHTS: dict[tuple[str, int], float] = {
    ("Swedbank", 8000): 25.0, ("Swedbank", 7000): 3.0, ("Handelsbanken", 6000): 18.0, ("SEB", 5000): 16.0,
    ("Nordea personkonto", 3300): 14.0, ("Nordea personkonto", 3782): 1.0, ("Nordea", 1100): 1.0,
    ("Nordea", 1400): 2.0, ("Nordea", 3000): 1.0, ("Nordea", 4000): 1.0, ("Länsförsäkringar", 3400): 1.0,
    ("Länsförsäkringar", 9020): 2.0, ("Länsförsäkringar", 9060): 1.0, ("Danske Bank", 1200): 2.0,
    ("Skandiabanken", 9150): 3.0, ("ICA Banken", 9270): 2.0, ("Sparbanken Syd", 9570): 1.0,
}
OTHER_BANK_WEIGHT = 0.2

WORK_EMAIL_DOMAIN = "nordljus.se"
