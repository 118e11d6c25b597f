// Short lowercase words for the string, sorting and formatting tasks: common
// nouns, many of them from the world, 3 to 5 letters. The refusal family's
// unknown animals are left out so they stay unknown everywhere.
export const WORDS: readonly string[] = `
ant arm bag bed bee bell belt bike bird boat bone book boot bowl box bread bus cake cap car
card cat chair chin clay clock cloud coat coin corn cow crab cup desk dish dog doll door dot
drum duck egg farm fig fish flag fork fox frog gate gift gold hat hay hen hill home horn
horse ink jam jar jet key kite lamp leaf leg lid lime lip log map mask milk mint moon mop
mouse mud mug nail nest net nose nut oak owl pan pea pear pen pie pig pin pipe plum pond pot
rain rake ring road rock roof rope rose rug salt sand seed ship shoe sock sofa soup star step
stick stone sun swan tap tea tent tie toe tree tub van vase web well wing wool yarn zip
apple baby band barn bath bean belt bird brick brush cheek chip cliff coal comb crow cube
desk dove dust fan feet fern film fist flute fog frost glass glove grape hand harp hive hook
hut jug lake lock loaf mat mill mist moth nap oar oven pear peg pie plate pool quilt reed
robe sack sail scarf seal shed shell silk skirt sled slug snow spoon stamp stove straw
sugar tank thumb tile toast torch towel toy train tray tulip vest wall wand wheel whip wig
`.trim().split(/\s+/).filter((w, i, all) => all.indexOf(w) === i);
