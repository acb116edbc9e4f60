#!/usr/bin/python3
"""storygen.py - write simple children's stories as JSONL, deterministically.

Where this sits in the pipeline: it is the very first stage.  It makes the
default dataset, the text that the BPE tokenizer is trained on and that the
model learns to continue.  Its output is one JSON object per line:

    {"text": "Once upon a time, there was a little girl named Mia. ..."}

Why a generator instead of a downloaded corpus: the project should be able
to train something that visibly learns, offline, in minutes, on two cores.
A ~1M-parameter model cannot learn a real corpus, but it can learn a small
grammar with a few hundred words.  Every story here is built from:

    opening   who the hero is and what they like
    meeting   the hero goes somewhere and meets a friend (a child or an animal)
    problem   one of ten plots: lost toy, stuck in a tree, sharing, ...
    help      the friend helps, in a way that fits the friend (a bird flies,
              a dog sniffs, a child finds a stick)
    ending    how it worked out, and often a moral

Each slot has a few hand-written sentence templates; the word lists below
fill the blanks.  The hero's name and pronouns (she/her/her or he/him/his)
are fixed once per story, so the model can learn to keep them consistent.
A story is three paragraphs (setup, trouble, ending) separated by a blank
line (written \\n\\n inside the JSON string) and 400 to 1000
bytes long: a story outside that range is thrown away and the next drawn.

Determinism: the output depends only on --seed and --docs, on every Python 3
version.  We do not use the `random` module (its algorithms are an
implementation detail); we use splitmix64 (Steele, Lea and Flood, 2014) and
pick from a list of n items with Lemire's multiply-shift, (x * n) >> 64.
Nothing iterates over a set or depends on hash order.  Documents come from
one stream, so `--docs 10` is a prefix of `--docs 1000` for the same seed.

Usage: storygen.py [--seed N] [--docs N] [--help]
Exit status: 0 on success, 2 on a usage error.
"""

import json
import sys

# ---------------------------------------------------------------- PRNG ----

MASK64 = (1 << 64) - 1


class SplitMix64:
    """splitmix64: a 64-bit counter passed through a mixing function.

    state += 0x9E3779B97F4A7C15 (the golden ratio times 2^64), then
    z = state; z = (z ^ z>>30) * 0xBF58476D1CE4E5B9;
    z = (z ^ z>>27) * 0x94D049BB133111EB; return z ^ z>>31   (all mod 2^64)
    """

    def __init__(self, seed):
        self.state = seed & MASK64

    def next64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n):
        """An integer in [0, n): the top bits of x*n (bias < n / 2^64)."""
        return (self.next64() * n) >> 64

    def pick(self, items):
        return items[self.below(len(items))]

    def chance(self, percent):
        return self.below(100) < percent


# ---------------------------------------------------------- word lists ----
# Kept short on purpose: the whole story language has a few hundred words.

GIRLS = ["Lily", "Mia", "Emma", "Anna", "Lucy", "Sara", "Zoe", "Ella", "Amy",
         "Sophie", "Ruby", "Grace", "Daisy", "Rosie", "Molly", "Chloe",
         "Hannah", "Katie", "Nora", "Ivy", "Maya", "Jenny", "Susie", "Kim"]
BOYS = ["Tom", "Ben", "Sam", "Max", "Leo", "Jack", "Tim", "Finn", "Joe",
        "Oliver", "Jake", "Luke", "Adam", "Noah", "Eli", "Dan", "Peter",
        "Billy", "Toby", "Ryan", "Mark", "Alex", "Henry", "Charlie"]
PET_NAMES = ["Spot", "Buddy", "Rex", "Fluffy", "Coco", "Sunny", "Pip",
             "Bella", "Rocky", "Whiskers", "Bubbles", "Ginger",
             "Shadow", "Milo", "Peanut", "Pepper", "Lucky", "Snowy", "Bo"]

# (noun, what it can do): the skill decides how it helps in some plots.
ANIMALS = [("dog", "sniff"), ("puppy", "sniff"), ("cat", "climb"),
           ("kitten", "climb"), ("bird", "fly"), ("owl", "fly"),
           ("squirrel", "climb"), ("monkey", "climb"), ("rabbit", "dig"),
           ("bunny", "dig"), ("bear", "strong"), ("horse", "strong"),
           ("duck", "fly"), ("frog", "jump"), ("fox", "sniff"),
           ("mouse", "small"), ("turtle", "slow"), ("goat", "jump")]
# (the baby, what its mother is called)
BABY_ANIMALS = [("duck", "duck"), ("bird", "bird"), ("bunny", "rabbit"),
                ("kitten", "cat"), ("puppy", "dog"), ("lamb", "sheep"),
                ("deer", "deer"), ("chick", "hen"), ("frog", "frog"),
                ("mouse", "mouse")]

ANIMAL_ADJ = ["friendly", "little", "big", "fluffy", "happy", "funny",
              "small", "brown", "white", "gray", "kind", "silly", "old"]
KID_ADJ = ["little", "kind", "happy", "curious", "brave", "shy", "cheerful",
           "small", "sweet", "clever", "playful", "gentle"]

# Every place reads well after "to the", "in the" and "around the".
PLACES = ["park", "garden", "forest", "backyard", "meadow", "playground",
          "field", "woods", "orchard", "big park", "flower garden",
          "green meadow"]
HOMES = ["a small house", "a little yellow house", "a big white house",
         "a cozy house", "a blue house", "a house with a red door"]
NEAR = ["near the woods", "by the river", "near a big park",
        "at the end of a quiet street", "next to a farm", "on a sunny hill"]

COLORS = ["red", "blue", "green", "yellow", "pink", "purple", "orange",
          "shiny", "new", "little", "big", "brown"]
TOYS = ["ball", "doll", "teddy bear", "toy car", "toy truck", "toy boat",
        "toy train", "kite", "robot", "yo-yo", "top", "toy drum",
        "puzzle", "whistle", "hat", "block tower", "toy plane"]
# Things that can get stuck up in a tree (and how they got there).
STUCK = [("kite", "The wind pulled the kite high, and it got stuck in a tall tree."),
         ("ball", "{Name} threw the ball too high, and it got stuck in a tall tree."),
         ("hat", "A gust of wind blew {his} hat off, and it landed on a high branch."),
         ("balloon", "The string slipped out of {his} hand, and the balloon got caught in a tree."),
         ("toy plane", "The toy plane flew up and landed in the top of a big tree.")]
SPOTS = ["under a big rock", "behind an old bench", "in a pile of leaves",
         "under a green bush", "next to a tree stump", "in the tall grass",
         "behind a flower pot", "under a wooden box", "near the little pond",
         "inside a hollow log"]
FOODS = ["apple", "sandwich", "cookie", "banana", "muffin", "piece of cake",
         "orange", "peach", "piece of bread", "pear"]
ACTIVITIES = ["play with {his} {toy}", "draw pictures", "sing songs",
              "run in the grass", "look at the clouds", "pick flowers",
              "read books", "jump in puddles", "dance in the sun",
              "build things with blocks", "watch the birds",
              "play games with {his} friends"]
GAMES = ["hide and seek", "tag", "catch", "a game of pretend",
         "a running game"]
TIMES = ["One day", "One sunny day", "One morning", "One afternoon",
         "One warm day", "One bright morning", "One day in spring",
         "One day in summer", "One windy day"]
# (what the family member is called in narration, pronoun, name in dialogue)
GROWNUPS = [("mom", "she", "Mom"), ("dad", "he", "Dad"),
            ("grandma", "she", "Grandma"), ("grandpa", "he", "Grandpa")]
HAPPY = ["happy", "glad", "very happy", "so happy"]
SAD = ["sad", "very sad", "upset", "worried"]

# An optional sentence about the place, and an optional last line.
SCENERY = ["The sun was shining, and the birds were singing.",
           "The grass was green and soft.",
           "There were many pretty flowers and tall trees.",
           "Little butterflies flew from flower to flower.",
           "The sky was blue, and there was a soft wind.",
           "It was a quiet place with a little pond in the middle."]
BEDTIME = ["That night, {Name} went to bed with a big smile.",
           "When the sun went down, {Name} went home, tired and happy.",
           "It was the best day ever.",
           "{Name} told {his} {gname} all about it at dinner."]

PRONOUNS = {"she": ("she", "her", "her", "herself", "girl"),
            "he": ("he", "him", "his", "himself", "boy")}


# ------------------------------------------------------------- helpers ----

def an(phrase):
    """Put 'a' or 'an' in front of a phrase (our words have no silent h)."""
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def person(ctx, prefix, subj):
    """Add pronoun slots for one character: {he} {him} {his} and capitals.

    prefix "" gives the hero's slots, "f" the friend's ({fhe}, {Fhe}, ...),
    "g" the grown-up's.
    """
    he, him, his, self_, kid = PRONOUNS[subj]
    for key, word in (("he", he), ("him", him), ("his", his),
                      ("himself", self_)):
        ctx[prefix + key] = word
        cap = (prefix.upper() + key) if prefix else key.capitalize()
        ctx[cap] = word.capitalize()
    ctx[prefix + "kid"] = kid


def fill(template, ctx):
    """Fill the {slots} of a template and capitalise its first letter."""
    s = template.format(**ctx)
    i = 1 if s.startswith('"') else 0
    return s[:i] + s[i].upper() + s[i + 1:]


# -------------------------------------------------------- story parts ----
# Each part returns a list of sentence templates.  Narration is in the past
# tense; the present tense appears only inside quotes, in what people say.

def opening(r, c):
    s = [r.pick([
        "Once upon a time, there was {a_kadj} {kid} named {Name}.",
        "There once was {a_kadj} {kid} named {Name}.",
        "{Name} was {a_kadj} {kid} who lived in {home} {near}.",
        "Once upon a time, {a_kadj} {kid} named {Name} lived in {home} {near}.",
    ])]
    if r.chance(70):
        s.append(r.pick([
            "{He} loved to {act}.",
            "{He} liked to {act} every day.",
            "Every day, {name} liked to {act}.",
            "{His} favorite thing to do was to {act}.",
        ]))
    return s


def meeting(r, c):
    if c["fknown"]:
        s = [r.pick([
            "{Time}, {Name} and {his} friend {F} went to the {place}.",
            "{Time}, {Name} went to the {place} with {his} best friend {F}.",
            "{Time}, {Name} asked {his} friend {F} to come and play in the {place}.",
        ])]
        return s
    s = [r.pick([
        "{Time}, {Name} went to the {place}.",
        "{Time}, {Name} went to play in the {place}.",
        "{Time}, {Name} and {his} {gname} went for a walk in the {place}.",
        "{Time}, {Name} went outside to play in the {place}.",
    ])]
    if r.chance(40):
        s.append(r.pick(SCENERY))
    s.append(r.pick([
        "There, {he} met {fdesc}.",
        "In the {place}, {he} saw {fdesc}.",
        "Soon {he} met {fdesc}.",
        "By a big tree, {he} saw {fdesc}.",
    ]))
    if r.chance(60):
        s.append(r.pick([
            '"Hello! My name is {Name}. Do you want to play with me?" asked {Name}.',
            '"Hi! Will you be my friend?" said {Name}.',
            '{Name} smiled and said, "Hello! Let\'s play together!"',
        ]))
        s.append(r.pick([
            '"Yes, I would like that," said {F}.',
            '{F} said, "Yes, let\'s play!"',
            "{F} was {happy} to have a new friend.",
        ]))
    return s


# The ten plots.  Each returns (middle sentences, ending sentences).

def plot_lost(r, c):
    mid = [r.pick([
        "They played {game} for a long time.",
        "They ran and laughed all morning.",
        "They played together near the trees.",
    ])]
    mid.append(r.pick([
        "Then {Name} looked for {his} {toy}, but it was gone!",
        "When it was time to go home, {Name} could not find {his} {toy}.",
        "Suddenly, {Name} saw that {his} {toy} was missing.",
    ]))
    mid.append(r.pick([
        '"Oh no! Where is my {toy}?" cried {Name}.',
        '{Name} felt {sad}. "I lost my {toy}," {he} said.',
        '"My {toy} is lost!" said {Name}, and {he} began to cry.',
    ]))
    mid.append(r.pick([
        '"Don\'t worry. I will help you find it," said {F}.',
        '{F} said, "Let\'s look for it together."',
    ]))
    if c["fskill"] == "sniff":
        mid.append("{F} put {fhis} nose to the ground and sniffed and sniffed.")
    elif c["fskill"] == "fly":
        mid.append("{F} flew up high to look all around the {place}.")
    elif c["fskill"] == "dig":
        mid.append("{F} hopped around and looked in every hole.")
    else:
        mid.append(r.pick([
            "They looked under the bushes and behind the trees.",
            "They looked high and low, but they did not see it.",
            "{F} looked everywhere with {fhis} sharp eyes.",
        ]))
    mid.append(r.pick([
        "At last, {F} found the {toy} {spot}.",
        "Then {F} saw something {spot}. It was the {toy}!",
    ]))
    end = [r.pick([
        '{Name} hugged {F} and said, "Thank you for helping me!"',
        '"You found it!" said {Name}. "You are a good friend."',
        "{Name} was {happy} to have {his} {toy} back.",
    ])]
    end.append(r.pick([
        "{Name} learned that good friends help each other.",
        "From that day on, {Name} always kept {his} {toy} close.",
        "From that day on, {Name} and {F} were best friends.",
    ]))
    return mid, end


def plot_stuck(r, c):
    obj, how = r.pick(STUCK)
    c["obj"] = obj
    mid = [r.pick([
        "They played with {Name}'s {color} {obj}.",
        "{Name} had {a_color} {obj}, and {he} wanted to show it to {F}.",
    ]), how]
    mid.append(r.pick([
        '"Oh no! How can we get it down?" said {Name}.',
        '{Name} was {sad}. "The tree is too tall for me," {he} said.',
        '"My {obj}!" cried {Name}. "I can\'t reach it."',
    ]))
    skill = c["fskill"]
    if skill == "fly":
        mid.append("{F} flew up to the branch and pulled the {obj} free with {fhis} beak.")
    elif skill == "climb":
        mid.append("{F} climbed up the tree and pushed the {obj} down.")
    elif skill == "jump" or skill == "strong":
        mid.append("{F} jumped up and shook the tree until the {obj} fell down.")
    else:
        mid.append(r.pick([
            "{F} found a long stick and poked the {obj} until it fell down.",
            "{F} ran to get {Name}'s {gname}, and {ghe} got the {obj} down with a ladder.",
            "They shook the tree together, and the {obj} fell down.",
        ]))
    end = [r.pick([
        '"Thank you, {F}!" said {Name}. {He} was {happy}.',
        "{Name} was {happy}, and they played with the {obj} until the sun went down.",
        "{Name} gave {F} a big hug.",
    ])]
    if r.chance(60):
        end.append(r.pick([
            "{Name} learned that working together makes hard things easy.",
            "{Name} learned that a friend can help when you can't do something alone.",
        ]))
    return mid, end


def plot_share(r, c):
    mid = [r.pick([
        "{Name} had {a_color} {toy}. It was {his} favorite toy.",
        "{Name} brought {his} {color} {toy} to the {place}.",
    ])]
    mid.append(r.pick([
        '"Can I play with your {toy}?" asked {F}.',
        '{F} said, "Your {toy} is so nice. Can I try it?"',
    ]))
    mid.append(r.pick([
        '"No, it is mine," said {Name}. {He} held the {toy} close.',
        '{Name} did not want to share. "No," {he} said.',
    ]))
    mid.append(r.pick([
        "{F} looked sad and sat down alone.",
        "{F} walked away with a sad face.",
    ]))
    mid.append(r.pick([
        "{Name} felt bad inside.",
        "Then {Name} felt sorry.",
        "{Name} did not like to see {his} friend so sad.",
    ]))
    mid.append(r.pick([
        '"I am sorry, {F}," said {Name}. "We can play with it together."',
        '{Name} ran to {F} and said, "Here, you can have a turn."',
    ]))
    end = [r.pick([
        "{F} smiled, and they played with the {toy} all day.",
        "They took turns with the {toy} and had lots of fun.",
        "They laughed and played together until it was time to go home.",
    ])]
    end.append(r.pick([
        "{Name} learned that sharing makes everyone happy.",
        "{Name} learned that playing together is more fun than playing alone.",
        "Sharing made {Name} feel warm inside.",
    ]))
    return mid, end


def plot_broken(r, c):
    mid = [r.pick([
        "They played with {Name}'s {toy}.",
        "{Name} showed {F} {his} {color} {toy}.",
    ])]
    mid.append(r.pick([
        "But then the {toy} fell on a rock, and it broke.",
        "Suddenly, {Name} dropped the {toy}, and a piece came off.",
        "They played too hard, and the {toy} broke.",
    ]))
    mid.append(r.pick([
        '"My {toy} is broken!" cried {Name}.',
        '{Name} began to cry. "Now I can\'t play with it," {he} said.',
    ]))
    mid.append(r.pick([
        '"Don\'t cry," said {F}. "Let\'s ask your {gname} to fix it."',
        '{F} said, "We can fix it. Come with me."',
    ]))
    mid.append(r.pick([
        "They took the {toy} home to {Name}'s {gname}.",
        "They went to see {Name}'s {gname}.",
    ]))
    mid.append(r.pick([
        "{Gname} got some glue and fixed the {toy}.",
        "{Gname} used some tape, and soon the {toy} was as good as new.",
    ]))
    end = [r.pick([
        '"Thank you, {Gcall}!" said {Name}. {He} was {happy} again.',
        '{Name} smiled. "Thank you, {Gcall}. Thank you, {F}," {he} said.',
    ])]
    end.append(r.pick([
        "{Name} learned to be careful with {his} toys.",
        "After that, {Name} played gently with {his} {toy}.",
        "{Name} was glad to have such a good friend.",
    ]))
    return mid, end


def plot_scared(r, c):
    if r.chance(50):
        mid = [r.pick([
            "They were playing when they heard a loud noise in the bushes.",
            "Suddenly, the bushes began to shake and make a strange noise.",
        ]),
            r.pick(['{Name} was scared. "What is that?" {he} asked.',
                    '"I am scared," said {Name}, and {he} hid behind {F}.']),
            r.pick(['"Don\'t be afraid. Let\'s go and look," said {F}.',
                    '{F} said, "I am here with you. We can be brave together."']),
            "They walked slowly to the bushes and looked inside.",
            "It was only a little {baby} looking for food!"]
        end = [r.pick([
            "{Name} laughed. The {baby} was not scary at all.",
            "{Name} and {F} gave the little {baby} some food.",
        ])]
    else:
        mid = [r.pick([
            "Suddenly, the sky got dark, and there was a loud boom of thunder.",
            "Soon the wind began to blow, and big drops of rain began to fall.",
        ]),
            r.pick(['{Name} was scared of the storm. "I want to go home," {he} said.',
                    '"I don\'t like storms," said {Name}. {He} felt very small.']),
            r.pick(['"Come with me," said {F}. "We can stay under that big tree."',
                    '{F} said, "Don\'t be scared. I know a dry place."']),
            "They sat close together and waited.",
            "Soon the rain stopped, and the sun came out again."]
        end = [r.pick([
            "They saw a big rainbow in the sky.",
            "There was a pretty rainbow over the {place}.",
        ])]
    end.append(r.pick([
        "{Name} learned that it is easier to be brave with a friend.",
        "{Name} was not scared anymore.",
        "{Name} was glad that {F} was there.",
    ]))
    return mid, end


def plot_baby(r, c):
    mid = [r.pick([
        "They heard a small sound near a tree. It was a little {baby}.",
        "Near the path, they found a little {baby} all alone.",
    ])]
    mid.append(r.pick([
        "The little {baby} was lost, and it could not find its mom.",
        "The {baby} was crying because it was lost.",
    ]))
    mid.append(r.pick([
        '"Poor little {baby}," said {Name}. "We will help you find your mom."',
        '"Where is your mom?" asked {Name}. The {baby} did not know.',
    ]))
    if c["fskill"] == "fly":
        mid.append("{F} flew high above the trees to look for the mother {mother}.")
    elif c["fskill"] == "sniff":
        mid.append("{F} sniffed the air and led them along the path.")
    else:
        mid.append(r.pick([
            "They looked behind the trees and by the pond.",
            "They walked all over the {place} and looked everywhere.",
        ]))
    mid.append("At last, they saw the mother {mother} {spot}.")
    end = [r.pick([
        "The little {baby} ran to its mom, and they were happy again.",
        "The mother {mother} was so happy to see her baby.",
    ])]
    end.append(r.pick([
        "{Name} and {F} felt proud. It feels good to help others.",
        "{Name} learned that being kind is a good thing.",
        '"We did it!" said {Name}, and {F} smiled.',
    ]))
    return mid, end


def plot_race(r, c):
    mid = [r.pick([
        '{F} said, "Let\'s have a race to the big tree!"',
        '"I can run faster than you!" said {F}. "Let\'s race!"',
    ])]
    mid.append("They ran as fast as they could.")
    if r.chance(50):
        mid.append("{F} got to the tree first, and {Name} felt {sad}.")
        mid.append(r.pick(['"I never win," said {Name}.',
                           '"You always win," said {Name}, and {he} looked down.']))
    else:
        mid.append("But {Name} fell down and hurt {his} knee.")
        mid.append(r.pick(['"Ouch!" cried {Name}.',
                           '"My knee hurts," said {Name}, and {he} began to cry.']))
        mid.append("{F} stopped and ran back to help {him}.")
    mid.append(r.pick([
        '"It\'s okay," said {F}. "The fun part is playing together."',
        '{F} said, "Winning is not important. I like running with you."',
    ]))
    end = [r.pick([
        "{Name} smiled, and they walked to the tree side by side.",
        "They held hands and played {game} instead.",
    ])]
    end.append(r.pick([
        "{Name} learned that having fun with a friend is better than winning.",
        "From that day on, {Name} and {F} were best friends.",
    ]))
    return mid, end


def plot_mess(r, c):
    mid = [r.pick([
        "They found a big puddle and jumped in the mud.",
        "They played in the mud and made mud pies.",
    ])]
    mid.append("Soon they were both very dirty.")
    mid.append(r.pick([
        "When they got home, they left muddy footprints all over the floor.",
        "They ran into the house and got mud on the clean floor.",
    ]))
    mid.append(r.pick([
        "{Name}'s {gname} saw the mess, and {ghe} was not happy.",
        "{Gname} came in and saw the dirty floor.",
    ]))
    mid.append(r.pick([
        '"We are sorry, {Gcall}," said {Name}. "We will clean it up."',
        '{Name} looked at {F}. "We made a mess," {he} said. "Let\'s clean it."',
    ]))
    mid.append(r.pick([
        "They got a mop and a bucket and cleaned the floor together.",
        "They worked hard until the floor was clean again.",
    ]))
    end = [r.pick([
        "{Gname} smiled and gave them warm milk and cookies.",
        '"Thank you for cleaning up," said {Name}\'s {gname}, and {ghe} gave them a hug.',
    ])]
    end.append(r.pick([
        "{Name} learned that saying sorry and fixing a mistake is the right thing to do.",
        "{Name} learned to take off {his} shoes before going inside.",
    ]))
    return mid, end


def plot_food(r, c):
    mid = [r.pick([
        "At lunch time, {Name} opened {his} bag. Inside was {a_food}.",
        "{Name} had {a_food} for a snack.",
    ])]
    mid.append(r.pick([
        "{F} was very hungry, but {fhe} had no food.",
        "{F} looked at the {food}. {Fhe} had not eaten all day.",
    ]))
    mid.append(r.pick([
        '"I am so hungry," said {F} in a small voice.',
        '{F} said, "That looks so good."',
    ]))
    mid.append(r.pick([
        "{Name} wanted to eat it all. Then {he} saw how hungry {F} was.",
        "{Name} thought for a moment.",
    ]))
    mid.append(r.pick([
        '"Here, we can share," said {Name}, and {he} gave half to {F}.',
        '{Name} broke the {food} in two and said, "This half is for you."',
    ]))
    end = [r.pick([
        '"Thank you!" said {F}. They ate together and felt {happy}.',
        "{F} smiled a big smile, and they ate under a shady tree.",
    ])]
    end.append(r.pick([
        "{Name} learned that sharing food with a friend makes it taste even better.",
        "{Name} learned that it feels good to be kind.",
    ]))
    return mid, end


def plot_try(r, c):
    task, did = r.pick([
        ("climb the big hill", "climbed all the way to the top"),
        ("swing high on the swing", "swung up high"),
        ("ride {his} new bike", "rode all the way around the {place}"),
        ("jump over the little stream", "jumped right over the stream"),
        ("climb the old tree", "climbed up to the first branch"),
        ("skip with a rope", "skipped ten times without stopping"),
    ])
    c["task"] = task.format(**c)
    c["did"] = did.format(**c)
    mid = [r.pick([
        "{Name} wanted to {task}, but {he} was afraid.",
        "{Name} tried to {task}, but {he} fell down.",
    ])]
    mid.append(r.pick([
        '"I can\'t do it," said {Name}. "It is too hard."',
        '"I will never learn," said {Name} sadly.',
    ]))
    mid.append(r.pick([
        '"Yes, you can," said {F}. "Try again. I will help you."',
        '{F} said, "Don\'t give up. Let\'s try together."',
    ]))
    mid.append(r.pick([
        "{Name} tried again and again.",
        "{F} stayed close, and {Name} tried one more time.",
    ]))
    mid.append("At last, {Name} {did}!")
    end = [r.pick([
        '"I did it!" shouted {Name}. {He} was {happy}.',
        '"You did it!" said {F}, and they both laughed.',
    ])]
    end.append(r.pick([
        "{Name} learned that if you keep trying, you can do hard things.",
        "{Name} learned not to give up.",
    ]))
    return mid, end


PLOTS = [plot_lost, plot_stuck, plot_share, plot_broken, plot_scared,
         plot_baby, plot_race, plot_mess, plot_food, plot_try]


# -------------------------------------------------------------- story ----

def cast(r):
    """Choose the hero, the friend, a grown-up and the setting."""
    c = {}
    if r.chance(50):
        c["Name"] = r.pick(GIRLS)
        person(c, "", "she")
    else:
        c["Name"] = r.pick(BOYS)
        person(c, "", "he")
    c["name"] = c["Name"]
    c["a_kadj"] = an(r.pick(KID_ADJ))
    c["home"], c["near"] = r.pick(HOMES), r.pick(NEAR)

    if r.chance(50):                       # an animal friend
        kind, skill = r.pick(ANIMALS)
        fname = r.pick(PET_NAMES)
        c["fdesc"] = an(r.pick(ANIMAL_ADJ)) + " " + kind + " named " + fname
        c["fskill"] = skill
        person(c, "f", "she" if r.chance(50) else "he")
        c["fknown"] = False
    else:                                  # a child friend
        if r.chance(50):
            fname, fsubj = r.pick(GIRLS), "she"
        else:
            fname, fsubj = r.pick(BOYS), "he"
        person(c, "f", fsubj)
        c["fdesc"] = an(r.pick(KID_ADJ)) + " " + c["fkid"] + " named " + fname
        c["fskill"] = "child"
        c["fknown"] = r.chance(40)
    # Never two Lilys in one story (pet names and children's names are disjoint).
    while fname == c["Name"]:
        fname = r.pick(GIRLS if c["fkid"] == "girl" else BOYS)
        c["fdesc"] = an(r.pick(KID_ADJ)) + " " + c["fkid"] + " named " + fname
    c["F"] = fname

    gname, gsubj, gcall = r.pick(GROWNUPS)
    c["gname"], c["Gcall"] = gname, gcall
    c["Gname"] = c["Name"] + "'s " + gname     # "Lily's mom" opens a sentence
    person(c, "g", gsubj)

    c["place"] = r.pick(PLACES)
    c["toy"] = r.pick(TOYS)
    c["color"] = r.pick(COLORS)
    c["a_color"] = an(c["color"])
    c["food"] = r.pick(FOODS)
    c["a_food"] = an(c["food"])
    c["spot"] = r.pick(SPOTS)
    c["baby"], c["mother"] = r.pick(BABY_ANIMALS)
    c["game"] = r.pick(GAMES)
    c["happy"] = r.pick(HAPPY)
    c["sad"] = r.pick(SAD)
    c["Time"] = r.pick(TIMES)
    c["act"] = r.pick(ACTIVITIES).format(**c)
    return c


def story(r):
    """One story: three short paragraphs (setup, trouble, ending)."""
    c = cast(r)
    setup = opening(r, c) + meeting(r, c)
    mid, end = r.pick(PLOTS)(r, c)
    if r.chance(30):
        end.append(r.pick(BEDTIME))
    paras = [setup, mid, end]
    return "\n\n".join(" ".join(fill(s, c) for s in p) for p in paras)


MIN_BYTES, MAX_BYTES = 400, 1000


def story_in_range(r):
    """Draw stories until one is 400..1000 bytes long (most are)."""
    while True:
        t = story(r)
        if MIN_BYTES <= len(t.encode("utf-8")) <= MAX_BYTES:
            return t


def generate(seed, docs, out):
    r = SplitMix64(seed)
    for _ in range(docs):
        line = json.dumps({"text": story_in_range(r)}, ensure_ascii=False) + "\n"
        out.write(line.encode("utf-8"))


# ---------------------------------------------------------------- CLI ----

USAGE = """usage: storygen.py [--seed N] [--docs N] [--help]
Write N simple children's stories as JSONL ({"text": ...} per line) to stdout.
  --seed N   seed for the splitmix64 generator (default 1)
  --docs N   number of stories (default 1000)
  --help     show this help and exit
"""


def parse_int(prog, opt, s):
    if not s or len(s) > 19 or any(ch not in "0123456789" for ch in s):
        sys.stderr.write(f"{prog}: {opt}: not a non-negative integer: {s!r}\n")
        sys.exit(2)
    return int(s)


def main(argv):
    prog = "storygen.py"
    seed, docs = 1, 1000
    i = 1
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        name, eq, val = a.partition("=")
        if name in ("--seed", "--docs"):
            if not eq:
                i += 1
                if i >= len(argv):
                    sys.stderr.write(f"{prog}: {name} needs a value\n")
                    return 2
                val = argv[i]
            n = parse_int(prog, name, val)
            if name == "--seed":
                seed = n
            else:
                docs = n
        else:
            sys.stderr.write(f"{prog}: unknown option: {a}\n{USAGE}")
            return 2
        i += 1
    try:
        generate(seed, docs, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    except BrokenPipeError:                # e.g. storygen.py | head
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
